/**
 * Slows down and stops password guessing: every failed login is answered
 * after a delay, and an address with too many failures in a row is banned
 * for a while. Memory is bounded (oldest addresses are forgotten first).
 *
 * @module
 */

/** Settings of {@linkcode LoginGuard}. */
export interface LoginGuardOptions {
  /** Failures in a row before the address is banned. */
  readonly maxFailures: number;
  readonly banMs: number;
  /** Delay before a failed login is answered. */
  readonly delayMs: number;
  /** Most addresses remembered. */
  readonly maxAddresses?: number;
  readonly now?: () => number;
}

interface AddressRecord {
  failures: number;
  bannedUntil: number;
}

/** Counts failed logins per address. */
export class LoginGuard {
  readonly #options: LoginGuardOptions;
  readonly #records = new Map<string, AddressRecord>();
  readonly #timers = new Map<ReturnType<typeof setTimeout>, () => void>();
  readonly #now: () => number;

  /** @param options limits and delays */
  constructor(options: LoginGuardOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** True while `address` is banned. */
  isBanned(address: string): boolean {
    const record = this.#records.get(address);
    return record !== undefined && record.bannedUntil > this.#now();
  }

  /** Records a failure; returns true when it got the address banned. */
  failed(address: string): boolean {
    const record = this.#records.get(address) ?? { failures: 0, bannedUntil: 0 };
    this.#records.delete(address);
    this.#records.set(address, record);
    record.failures++;
    if (this.#records.size > (this.#options.maxAddresses ?? 10_000)) {
      const oldest = this.#records.keys().next().value;
      if (oldest !== undefined) this.#records.delete(oldest);
    }
    if (record.failures >= this.#options.maxFailures) {
      record.failures = 0;
      record.bannedUntil = this.#now() + this.#options.banMs;
      return true;
    }
    return false;
  }

  /** Forgets the failures of `address` after a good login. */
  succeeded(address: string): void {
    const record = this.#records.get(address);
    if (record && record.bannedUntil <= this.#now()) this.#records.delete(address);
  }

  /** Addresses banned now. */
  bannedCount(): number {
    const now = this.#now();
    let count = 0;
    for (const record of this.#records.values()) if (record.bannedUntil > now) count++;
    return count;
  }

  /** Waits the failed-login delay (cut short by {@linkcode LoginGuard.close}). */
  delay(): Promise<void> {
    if (this.#options.delayMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        resolve();
      }, this.#options.delayMs);
      this.#timers.set(timer, resolve);
    });
  }

  /** Ends every pending delay (at shutdown). */
  close(): void {
    for (const [timer, resolve] of this.#timers) {
      clearTimeout(timer);
      resolve();
    }
    this.#timers.clear();
  }
}
