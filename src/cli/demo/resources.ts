/**
 * Everything a run starts (processes, balancer, client, database) registers its disposer here;
 * {@link Resources.disposeAll} runs them newest first and keeps going past failures, so one
 * broken teardown never leaves the rest running.
 */
export class Resources {
  private readonly stack: Array<{ name: string; dispose: () => Promise<void> }> = [];
  private disposing: Promise<Error[]> | undefined;

  add(name: string, dispose: () => Promise<void>): void {
    this.stack.push({ name, dispose });
  }

  disposeAll(): Promise<Error[]> {
    this.disposing ??= (async () => {
      const errors: Error[] = [];
      while (this.stack.length > 0) {
        const item = this.stack.pop();
        if (!item) break;
        try {
          await item.dispose();
        } catch (error) {
          errors.push(new Error(`cleanup of ${item.name} failed: ${error instanceof Error ? error.message : String(error)}`));
        }
      }
      return errors;
    })();
    return this.disposing;
  }
}
