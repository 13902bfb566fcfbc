// Appends records in the order they finish, a batch at a time: the records that finish while one
// batch is being written go together in the next (one append, one response-cache flush before
// it), instead of one append and one flush each. A caller resumes once its own record is written.

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class BatchWriter<T> {
  private waiting: Waiting<T>[] = [];
  private draining: Promise<void> | undefined;
  private failure: { err: unknown } | undefined;

  /** `write` takes a whole batch; if it throws, that batch and every later record fail with it. */
  constructor(private readonly write: (items: T[]) => Promise<void>) {}

  /** Resolves when `item` is written; rejects with the write's error. */
  add(item: T): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.err);
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ item, resolve, reject }));
    this.draining ??= this.drain();
    return done;
  }

  /** Resolves once everything added so far is written or has failed. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  private async drain(): Promise<void> {
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting;
        this.waiting = [];
        try {
          await this.write(batch.map((w) => w.item));
        } catch (err) {
          this.failure = { err };
          for (const w of [...batch, ...this.waiting]) w.reject(err);
          this.waiting = [];
          return;
        }
        for (const w of batch) w.resolve();
      }
    } finally {
      this.draining = undefined;
    }
  }
}
