/**
 * Text for Slack mrkdwn, escaped as Slack asks: `&`, `<` and `>` become entities, so an issue
 * titled `<!channel>` or `<@U123>` is shown as that text and pings nobody, and `<url|label>`
 * in a title makes no link.
 */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
