// A notifier in its own process, to be killed mid-send.
//
// tsx test/support/notify-child.ts <stateDir> <slackUrl> <notification JSON>
//   Records the notification for Slack (digest window 0) and sends it; the parent kills this
//   process while the request is open.
import { silentLogger } from "../../src/adapters/logger.js";
import { Notifier } from "../../src/app/notify/notifier.js";
import { SlackChannel } from "../../src/app/notify/slack-channel.js";
import type { Notification } from "../../src/core/notification.js";

const [stateDir, slackUrl, json] = process.argv.slice(2);
if (!stateDir || !slackUrl || !json) throw new Error("usage: notify-child <stateDir> <slackUrl> <notification JSON>");
const notifier = new Notifier({
  stateRoot: stateDir,
  slack: new SlackChannel(slackUrl, { timeoutMs: 600_000 }),
  installation: { slackEvents: ["failed"], emailEvents: [], emailTo: [] },
  windowMs: 0,
  log: silentLogger(),
});
await notifier.notify(JSON.parse(json) as Notification, {});
await notifier.flush();
await notifier.idle();
process.stdout.write("finished\n");
