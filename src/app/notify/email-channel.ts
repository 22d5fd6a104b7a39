import { createHash } from "node:crypto";
import nodemailer from "nodemailer";
import type { RenderedNotification } from "../../core/render-notification.js";
import type { DeliveryAnswer } from "./delivery-answer.js";

/** What the channel needs of a nodemailer transport. */
export interface MailTransport {
  sendMail(message: {
    from: string;
    to: string[];
    subject: string;
    text: string;
    html: string;
    messageId: string;
    headers: Record<string, string>;
  }): Promise<unknown>;
}

/**
 * A stable Message-ID for a set of outbox ids: a resend of the same transitions (after a crash
 * between the server's acceptance and the outbox's record) carries the same id, so a receiver
 * that deduplicates by Message-ID shows it once.
 */
export function messageIdOf(ids: readonly string[]): string {
  const digest = createHash("sha256")
    .update([...ids].sort().join("\n"))
    .digest("hex")
    .slice(0, 32);
  return `<${digest}@claude-harness.notify>`;
}

/** Email over SMTP with nodemailer: plain text and HTML, one Message-ID per set of transitions. */
export class EmailChannel {
  private readonly transport: MailTransport;

  constructor(
    smtpUrl: string,
    private readonly from: string,
    transport?: MailTransport,
  ) {
    this.transport = transport ?? (nodemailer.createTransport(smtpUrl) as unknown as MailTransport);
  }

  async send(message: RenderedNotification, to: readonly string[], ids: readonly string[]): Promise<DeliveryAnswer> {
    try {
      await this.transport.sendMail({
        from: this.from,
        to: [...to],
        subject: message.subject,
        text: message.text,
        html: message.html,
        messageId: messageIdOf(ids),
        headers: { "X-Harness-Notification": ids.join(" ") },
      });
      return { kind: "ok" };
    } catch (error) {
      const code = (error as { responseCode?: unknown }).responseCode;
      const detail = `SMTP: ${(error as Error).message}`;
      // An SMTP 5xx is permanent (bad recipient, refused); 4xx and connection errors are worth a retry.
      if (typeof code === "number" && code >= 500) return { kind: "fatal", detail };
      return { kind: "retry", afterMs: null, detail };
    }
  }
}
