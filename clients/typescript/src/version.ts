/** The client's version; it moves with the gateway's releases. */
export const VERSION = '0.1.0';

/**
 * The gateway versions this client works with: the release of the same minor
 * version, whose schema its documents were generated from. A gateway built
 * from a checkout reports "dev" (or "dev+<commit>"): the newest schema, taken
 * as supported.
 */
export const SERVER_VERSIONS = '>=0.1.0 <0.2.0';

const minServer: readonly [number, number, number] = [0, 1, 0];
const maxServerExclusive: readonly [number, number, number] = [0, 2, 0];

/** Whether a gateway reporting this version (`memory-gateway version`) works with this client. */
export function serverVersionSupported(version: string): boolean {
  let v = version.trim();
  if (v === 'dev' || v.startsWith('dev+')) return true;
  if (v.startsWith('v')) v = v.slice(1);
  const core = v.split('+', 1)[0]!.split('-', 1)[0]!;
  const parts = core.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^\d+$/.test(p))) return false;
  const n = parts.map(Number);
  return compare(n, minServer) >= 0 && compare(n, maxServerExclusive) < 0;
}

function compare(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    if (a[i]! !== b[i]!) return a[i]! - b[i]!;
  }
  return 0;
}
