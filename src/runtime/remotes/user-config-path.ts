// Where the user config file is: $SIEVE_CONFIG, else $XDG_CONFIG_HOME/sieve/config.yaml or
// ~/.config/sieve/config.yaml. A module of its own: `sieve run` looks for an `executor:` section in
// it without loading the remotes' code.
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function userConfigPath(): string {
  if (process.env.SIEVE_CONFIG) return resolve(process.env.SIEVE_CONFIG);
  const base = process.env.XDG_CONFIG_HOME || join(homedir(), '.config');
  return join(base, 'sieve', 'config.yaml');
}
