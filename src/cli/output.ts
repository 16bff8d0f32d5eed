/**
 * The long-running commands' output when its reader goes away: `hotcold node | grep -m1
 * listening`, `hotcold demo | head`, a supervisor that stopped reading. Node ignores SIGPIPE, so
 * the next write fails with EPIPE on the stream, and a stream's 'error' without a listener is an
 * uncaught exception: the process died with a stack trace wherever it was — a node while serving
 * (no drain, in-flight calls cut, the lease left to expire), the demo with its temp folder left
 * behind.
 */

/** The errors of a write to a pipe whose reader is gone (and of every write after it). */
function readerGone(error: NodeJS.ErrnoException): boolean {
  return error.code === 'EPIPE' || error.code === 'ERR_STREAM_DESTROYED' || error.code === 'ECONNRESET';
}

/**
 * Listens for stdout's and stderr's errors for the rest of the process (a write's error may come
 * after the command has returned): a reader that went away aborts the signal returned, and later
 * lines are dropped (stderr's is ignored: there is nowhere left to say it); any other write error
 * is rethrown, as it was before.
 * @returns a signal that aborts when stdout's reader has gone.
 */
export function watchOutput(): AbortSignal {
  const controller = new AbortController();
  const onStdout = (error: NodeJS.ErrnoException): void => {
    if (!readerGone(error)) throw error;
    controller.abort();
  };
  const onStderr = (error: NodeJS.ErrnoException): void => {
    if (!readerGone(error)) throw error;
  };
  process.stdout.on('error', onStdout);
  process.stderr.on('error', onStderr);
  return controller.signal;
}
