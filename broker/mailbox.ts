/**
 * A bounded first-in-first-out mailbox with both verbs of a channel:
 * `trySend` answers `false` when full, `send` waits for room.
 *
 * @module
 */

/** A bounded FIFO queue with waiting senders and one waiting receiver. */
export class Mailbox<T> {
  readonly #capacity: number;
  #items: (T | undefined)[];
  #head = 0;
  #size = 0;
  #closed = false;
  #receiver: ((item: T | undefined) => void) | undefined;
  #spaceWaiters: (() => void)[] = [];

  /** @param capacity the most items it holds; at least 1 */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`Mailbox capacity must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#items = new Array(capacity);
  }

  /** How many items it can hold. */
  get capacity(): number {
    return this.#capacity;
  }

  /** How many items wait in it now. */
  get depth(): number {
    return this.#size;
  }

  /** Whether it has room for `n` more items. */
  hasRoom(n = 1): boolean {
    return !this.#closed && this.#size + n <= this.#capacity;
  }

  /** True once {@linkcode Mailbox.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Adds `item` when there is room; returns false when full or closed. */
  trySend(item: T): boolean {
    if (!this.hasRoom()) return false;
    if (this.#receiver) {
      const receive = this.#receiver;
      this.#receiver = undefined;
      receive(item);
      return true;
    }
    this.#items[(this.#head + this.#size) % this.#capacity] = item;
    this.#size++;
    return true;
  }

  /** Resolves when there is room for one more item (or the mailbox is closed). */
  waitForRoom(): Promise<void> {
    if (this.#closed || this.#size < this.#capacity) return Promise.resolve();
    return new Promise((resolve) => this.#spaceWaiters.push(resolve));
  }

  /** Adds `item`, waiting for room; returns false when the mailbox closed first. */
  async send(item: T): Promise<boolean> {
    while (!this.#closed) {
      if (this.trySend(item)) return true;
      await this.waitForRoom();
    }
    return false;
  }

  /** Takes the oldest item without waiting; undefined when empty. */
  tryReceive(): T | undefined {
    if (this.#size === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#capacity;
    this.#size--;
    // Wake every waiting sender: each re-checks for room, and a waiter that gave up (its ask
    // timed out) is dropped here instead of swallowing a wakeup meant for a live one.
    if (this.#spaceWaiters.length > 0) {
      for (const waiter of this.#spaceWaiters.splice(0)) {
        waiter();
      }
    }
    return item;
  }

  /** Takes the oldest item, waiting for one; undefined once closed and empty. */
  receive(): Promise<T | undefined> {
    const item = this.tryReceive();
    if (item !== undefined || this.#closed) return Promise.resolve(item);
    return new Promise((resolve) => {
      this.#receiver = resolve;
    });
  }

  /** Stops taking items. Queued items stay receivable; waiting senders get false. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#spaceWaiters.splice(0)) waiter();
    if (this.#size === 0 && this.#receiver) {
      const receive = this.#receiver;
      this.#receiver = undefined;
      receive(undefined);
    }
  }
}
