// Whether an optional package (e.g. @tensorflow/tfjs-node) is installed, for tests whose
// expectations depend on it.
import { createRequire } from 'node:module';

export function isInstalled(pkg: string): boolean {
  try {
    createRequire(import.meta.url).resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
