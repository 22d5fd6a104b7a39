/**
 * A cosmetic write (`request: { harnessWriteClass: "cosmetic" }`) that the
 * write budget dropped before it was sent: only the reserve for essential
 * writes was left. Nothing reached GitHub; the next edit carries the newer
 * state anyway. GitHubClient turns it into `false` (`updateComment`).
 */
export class WriteDropped extends Error {
  readonly method: string;
  readonly url: string;

  constructor(method: string, url: string) {
    super(`The write budget dropped the cosmetic ${method} ${url}: only the reserve for essential writes is left.`);
    this.name = "WriteDropped";
    this.method = method;
    this.url = url;
  }
}
