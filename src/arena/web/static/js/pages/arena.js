// Start the arena page: build each part and connect them. No logic of its own.

import { onUnauthorized, setToken } from "../lib/api.js";
import { createAttachments } from "../arena/attachments.js";
import { reveal, setupShowSpeed, votePairwise, voteThumb } from "../arena/blind.js";
import { conversationIdFromHash, createConversationController } from "../arena/conversation.js";
import { watchCodeBlocks } from "../lib/code-blocks.js";
import { byId } from "../lib/dom.js";
import { createExports } from "../arena/exports.js";
import { createJudge } from "../arena/judge.js";
import { createModelManager } from "../arena/model-manager.js";
import { createModelPicker } from "../arena/model-picker.js";
import { setupNextPair } from "../arena/next-pair.js";
import { createSessions } from "../arena/sessions.js";
import { installShortcuts } from "../arena/shortcuts.js";
import { state } from "../arena/store.js";
import { stopAllStreams } from "../arena/stream.js";
import { createTranscript } from "../arena/transcript.js";

state.maxInstances = Number(document.body.dataset.maxInstances) || state.maxInstances;

let controller = null;
const judge = createJudge();
const transcript = createTranscript({
  stop: (card) => controller.stop(card),
  regenerate: (card) => controller.regenerate(card),
  copy: (card) => controller.copy(card),
  continueWith: (card) => controller.continueWith(card),
  vote: voteThumb,
  pairwise: votePairwise,
  judge: judge.attach,
});
controller = createConversationController({ transcript });
const picker = createModelPicker();
const sessions = createSessions({ open: controller.open, startNew: controller.startNew });
const exports = createExports({ open: controller.open });
createAttachments();
createModelManager();
byId("reveal-button").addEventListener("click", reveal);
watchCodeBlocks(byId("transcript"));
setupShowSpeed();
setupNextPair();

installShortcuts({
  send: controller.send,
  stopAll: stopAllStreams,
  focusPicker: picker.focus,
  openExport: exports.openMenu,
});

// WEB_CHAT_TOKEN: ask once, keep it in this tab, then load again.
const tokenDialog = byId("token-dialog");
onUnauthorized(() => {
  if (!tokenDialog.open) tokenDialog.showModal();
});
tokenDialog.addEventListener("close", () => {
  if (tokenDialog.returnValue !== "save") return;
  setToken(byId("token-input").value.trim());
  location.reload();
});

await picker.loadModels();
await sessions.refresh();
const requested = conversationIdFromHash();
if (requested) await controller.open(requested);
document.body.dataset.ready = "true"; // the page is wired: tests and people may start
