/**
 * A start-up failure the user can fix that is not a listener's bind (those are
 * `protocols/listen_error.ts`): a certificate that does not fit its key, a
 * file that is not PEM. `main.ts` prints its message as one line and exits 2.
 *
 * @module
 */

/** A start-up failure with a message for the user (no stack trace needed). */
export class StartFailure extends Error {
  override readonly name = "StartFailure";
}
