// Starts a live gateway built from this checkout for the tests: a keyed
// gateway (API_KEYS_FILE) on a loopback port, with a fresh SQLite database.
import { spawn, execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const run = promisify(execFile);
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

/**
 * Builds the gateway, makes an ADMIN key of workspace "acme", serves, and
 * resolves once the server logs its address.
 */
export async function startGateway() {
  const dir = await mkdtemp(join(tmpdir(), 'mg-ts-client-'));
  const bin = join(dir, 'mg');
  await run('go', ['build', '-o', bin, repoRoot], { cwd: repoRoot });
  const keysFile = join(dir, 'keys.json');
  const { stdout } = await run(bin, ['keys', 'create', '--name', 'ts-client', '--workspace', 'acme', '--role', 'ADMIN', '--grant', 'ADMIN', '--file', keysFile]);
  const apiKey = stdout.trim();
  const proc = spawn(bin, ['serve'], {
    env: {
      ...process.env,
      DATABASE_URL: `file:${join(dir, 'gateway.db')}`,
      LISTEN_ADDR: '127.0.0.1:0',
      API_KEYS_FILE: keysFile,
      LOG_FORMAT: 'json',
      LOG_LEVEL: 'info',
      // An erasure starts deleting once the longest ingest write could have
      // ended (this bound plus a second): short here, so the test's is quick.
      BACKEND_TIMEOUT: '1s',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log = [];
  const addr = await new Promise((resolveAddr, reject) => {
    const lines = createInterface({ input: proc.stderr });
    lines.on('line', (line) => {
      log.push(line);
      const m = line.match(/"msg":"memory-gateway: serving","addr":"([^"]+)"/);
      if (m) resolveAddr(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`the gateway exited (${code}) before serving:\n${log.join('\n')}`)));
  });
  return {
    url: `http://${addr}/graphql`,
    apiKey,
    log,
    async stop() {
      if (proc.exitCode === null) {
        proc.kill('SIGTERM');
        await once(proc, 'exit');
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
