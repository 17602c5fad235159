/**
 * `work`'s outcome, or `onTimeout()`'s once `ms` have passed first: its value, or the error it throws.
 * The work itself is not stopped (a caller that can stop it does so in `onTimeout`). `unref` lets the
 * process exit while only this wait is left.
 */
export async function withTimeout<T, L>(work: PromiseLike<T>, ms: number, onTimeout: () => L, { unref = false } = {}): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    if (unref) {
      timer.unref();
    }
  }).then(() => onTimeout());
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}
