// How member containers are run: image and command come from the spec and the operator's config
// (the local node agent runs bin/tsetcd as a process; a real cluster runs the image's entrypoint).
export interface MemberContainerConfig {
  /** Overrides the spec's image (e.g. a local build); null keeps the spec's. */
  imageOverride: string | null;
  /** The member command; the image's entrypoint when empty. */
  command: string[];
}

export const DEFAULT_MEMBER_CONFIG: MemberContainerConfig = { imageOverride: null, command: ['tsetcd'] };
