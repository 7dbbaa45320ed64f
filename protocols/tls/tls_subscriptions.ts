/**
 * Which devices one TLS connection watches (`subscribe`/`unsubscribe`), and
 * in which format its pushes go out.
 *
 * @module
 */

/** The devices one connection watches; `all` watches every device it could see at subscribe. */
export class TlsSubscriptions {
  readonly #watched = new Set<string>();
  #watchAll: ReadonlySet<string> | undefined;
  #json = false;

  /** True when at least one device is watched. */
  get any(): boolean {
    return this.#watchAll !== undefined || this.#watched.size > 0;
  }

  /** Pushes go out as JSON lines (the format of the last `subscribe`). */
  get json(): boolean {
    return this.#json;
  }

  /** Whether a change of `device` is pushed. */
  watches(device: string): boolean {
    return this.#watchAll ? this.#watchAll.has(device) : this.#watched.has(device);
  }

  /** Watches `device`, or (`devices`, for `*`) every device of that list. */
  watch(device: string, json: boolean, devices?: readonly string[]): void {
    this.#json = json;
    if (devices !== undefined) this.#watchAll = new Set(devices);
    else this.#watched.add(device);
  }

  /** Stops watching `device` (`*`: every device). */
  unwatch(device: string): void {
    if (device === "*") this.clear();
    else this.#watched.delete(device);
  }

  /** Watches nothing any more. */
  clear(): void {
    this.#watched.clear();
    this.#watchAll = undefined;
  }
}
