/**
 * A small line splitter for the benchmark's own pipes (child stdout).
 *
 * @module
 */

/** Splits a text stream on `\n` (dropping a trailing `\r`). */
export class TextLineStream extends TransformStream<string, string> {
  /** Creates the splitter. */
  constructor() {
    let partial = "";
    super({
      transform(chunk, controller) {
        const parts = (partial + chunk).split("\n");
        partial = parts.pop() ?? "";
        for (const line of parts) controller.enqueue(line.replace(/\r$/, ""));
      },
      flush(controller) {
        if (partial) controller.enqueue(partial);
      },
    });
  }
}
