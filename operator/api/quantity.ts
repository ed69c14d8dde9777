// A small parser for Kubernetes resource quantities ("500m", "2Gi", "1e3"), enough to compare sizes.
// Returns the value in base units as a number (bytes, cores), or null when the text is not a quantity.

const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
const DECIMAL: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18 };

const QUANTITY_RE = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E))?$/;

export function parseQuantity(text: string): number | null {
  const m = QUANTITY_RE.exec(text.trim());
  if (!m) return null;
  const base = Number(m[1]);
  if (!Number.isFinite(base)) return null;
  if (m[2] !== undefined) return base * (BINARY[m[2]] as number);
  if (m[3] !== undefined) return base * 10 ** Number(m[3].slice(1));
  return base * (DECIMAL[m[4] ?? ''] as number);
}
