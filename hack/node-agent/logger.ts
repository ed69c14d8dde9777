// JSON-lines logger of the node agent. Test infrastructure for the local control plane.
export interface Logger {
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(component: string, write: (line: string) => void): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>): void => {
    write(JSON.stringify({ ts: new Date().toISOString(), level, component, msg, ...fields }));
  };
  return { info: log('info'), warn: log('warn'), error: log('error') };
}
