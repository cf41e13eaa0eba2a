/** Builds the Kong plugin bundle (CommonJS) to `outfile`; resolves its path. */
export function buildKongPlugin(outfile?: string): Promise<string>
