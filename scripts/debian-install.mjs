// Installs a Debian package for the tests and benchmarks that need a program
// from outside npm (Chromium, redis-server, valgrind): only on Debian and as
// root; anywhere else it does nothing and the caller says how to get one.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * `apt-get install -y <name>` on Debian as root. Returns whether apt-get ran
 * and succeeded; `false` elsewhere, without trying.
 * @param {string} name
 * @param {{ recommends?: boolean }} [options] install the package's recommended ones too (default no)
 */
export function installFromDebian(name, { recommends = false } = {}) {
  if (!existsSync('/etc/debian_version') || process.getuid?.() !== 0) return false;
  console.log(`${name}: missing; installing Debian's package (apt-get install -y ${name})…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = ['install', '-y', '-qq', ...(recommends ? [] : ['--no-install-recommends']), name];
  return (
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env }).status === 0 &&
    spawnSync('apt-get', install, { stdio: 'inherit', env }).status === 0
  );
}
