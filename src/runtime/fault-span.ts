/**
 * A lasting fault as a module's health reports it (a full disk failing every write): since when it has been failing
 * and its last error, cleared by the next success.
 */
export interface Failing {
  since: string;
  error: string;
}

export class FaultSpan {
  private span: Failing | undefined;

  /** Another failure: the span keeps the time of the first, and takes this one's error. */
  failed(err: unknown): void {
    this.span = { since: this.span?.since ?? new Date().toISOString(), error: String((err as Error)?.message ?? err) };
  }

  succeeded(): void {
    this.span = undefined;
  }

  get current(): Failing | undefined {
    return this.span;
  }
}
