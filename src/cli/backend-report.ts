/** How commands that write tell, with several backends, what each one got (issue: "reports per backend"). */
import { MirrorBackend } from '../backend/index.js';
import { PartialFailureError } from '../errors/index.js';
import type { Repository } from '../repository/index.js';
import type { CliContext } from './context.js';
import { formatBytes } from './format.js';

/**
 * Prints one line per backend when there are several; then fails with exit 1 when any
 * was left out, since `outcome` (the archive, the deletion) is then missing there.
 */
export function reportBackends(context: CliContext, repository: Repository, outcome: string): void {
  const backend = repository.backend;
  if (!(backend instanceof MirrorBackend)) return;
  const members = backend.report();
  for (const m of members) {
    const written = `${m.objectsWritten} objects written (${formatBytes(m.bytesWritten)})`;
    context.summary(m.failure === undefined ? `  ${m.location}: ok, ${written}` : `  ${m.location}: FAILED, ${written} before: ${m.failure}`);
  }
  const failed = members.filter((m) => m.failure !== undefined).length;
  if (failed > 0) throw new PartialFailureError(`${failed} of ${members.length} backends failed, so ${outcome} is not on ${failed === 1 ? 'it' : 'them'} (see above)`);
}
