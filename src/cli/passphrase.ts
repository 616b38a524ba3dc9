/**
 * Passphrases come from PRESERVE_PASSPHRASE or are typed at a terminal without echo;
 * never from the command line, where other users can read them in the process list.
 */
import { UsageError } from '../errors/index.js';

const MIN_RECOMMENDED_LENGTH = 12;

export interface PassphraseRequest {
  readonly prompt: string;
  /** Ask twice and compare (when a passphrase is being chosen, not entered). */
  readonly confirm: boolean;
  readonly onWarning: (message: string) => void;
}

export async function readPassphrase(request: PassphraseRequest): Promise<string> {
  const fromEnvironment = process.env.PRESERVE_PASSPHRASE;
  const passphrase = fromEnvironment ?? (await promptTwice(request));
  if (passphrase === '') throw new UsageError('the passphrase is empty');
  if (request.confirm && passphrase.length < MIN_RECOMMENDED_LENGTH) {
    request.onWarning(`a passphrase of ${passphrase.length} characters is weak; ${MIN_RECOMMENDED_LENGTH} or more are recommended`);
  }
  return passphrase;
}

async function promptTwice(request: PassphraseRequest): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('no passphrase: set PRESERVE_PASSPHRASE or run this in a terminal');
  const first = await promptHidden(`${request.prompt}: `);
  if (request.confirm && (await promptHidden('the same passphrase again: ')) !== first) throw new UsageError('the two passphrases differ');
  return first;
}

/** One line from the terminal in raw mode, echoing nothing; Ctrl-C or Ctrl-D cancels. */
function promptHidden(prompt: string): Promise<string> {
  const input = process.stdin;
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const finish = (outcome: () => void): void => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      process.stderr.write('\n');
      outcome();
    };
    const onData = (chunk: Buffer): void => {
      for (const character of chunk.toString('utf8')) {
        if (character === '\r' || character === '\n') return finish(() => resolve(typed));
        if (character === '\u0003' || character === '\u0004') return finish(() => reject(new UsageError('cancelled')));
        if (character === '\u007f' || character === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += character;
      }
    };
    input.on('data', onData);
  });
}
