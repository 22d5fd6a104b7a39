import type { AddressInfo } from "node:net";
import { simpleParser, type ParsedMail } from "mailparser";
import { SMTPServer } from "smtp-server";

/**
 * An in-process SMTP server (smtp-server) that parses every message it accepts with
 * mailparser. `reject` makes the next messages fail with an SMTP code (a 451 is transient, a
 * 550 permanent).
 */
export class SmtpSink {
  readonly messages: ParsedMail[] = [];
  private rejections: number[] = [];
  private constructor(private readonly server: SMTPServer) {}

  static async start(): Promise<SmtpSink> {
    let sink: SmtpSink | null = null;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onData(stream, _session, callback) {
        const code = sink?.rejections.shift();
        simpleParser(stream).then(
          (mail) => {
            if (code !== undefined) {
              const error = new Error(`scripted refusal ${code}`) as Error & { responseCode: number };
              error.responseCode = code;
              callback(error);
              return;
            }
            sink?.messages.push(mail);
            callback();
          },
          (error: Error) => callback(error),
        );
      },
    });
    sink = new SmtpSink(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${(this.server.server.address() as AddressInfo).port}`;
  }

  reject(...codes: number[]): void {
    this.rejections.push(...codes);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
