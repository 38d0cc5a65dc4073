// What every bench script reads from its command line and environment.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
/** --quick: fewer repetitions */
export const quick = args.includes('--quick');
/** --json FILE: also write the results there */
export const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : null;
/** the real models (BITEXACT_MODELS overrides ../shared/models) */
export const sharedModels = resolve(process.env.BITEXACT_MODELS ?? join(root, '..', 'shared', 'models'));
