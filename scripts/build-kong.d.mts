/** Builds the Kong plugin bundle (self-contained CommonJS) to `outfile`; resolves its path. */
export function buildKongPlugin(outfile?: string): Promise<string>
/** The comment on the bundle's first line, naming the package version. */
export function bundleBanner(version: string): string
/** Writes dist/kong/entry.d.cts, the types of `require('kong-upstream-jwt/kong')`. */
export function writeKongTypes(dir?: string): string
