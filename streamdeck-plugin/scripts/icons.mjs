// Writes the plugin's icons and default key images into com.agentlight.agent.sdPlugin/imgs:
// the key images with the plugin's own renderer (build/src, from `npm run build:test`), the
// marketplace PNGs rasterised by resvg (WebAssembly: no native module). Run `npm run icons`
// after changing the drawing; the outputs are committed.
import { initWasm, Resvg } from "@resvg/resvg-wasm";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const imgs = path.join(root, "com.agentlight.agent.sdPlugin", "imgs");
const { face, renderKey } = await import(path.join(root, "build/src/render/svg.js"));
const { pageFace } = await import(path.join(root, "build/src/layout.js"));

const write = (rel, data) => {
	fs.mkdirSync(path.dirname(path.join(imgs, rel)), { recursive: true });
	fs.writeFileSync(path.join(imgs, rel), data);
};

// Action list icons: white line drawings on transparent, as Elgato's guidelines ask.
const glyph = (body, size = 20) =>
	`<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 20 20" fill="none" stroke="#ffffff" stroke-width="1.6">${body}</svg>\n`;
write("actions/agent.svg", glyph('<circle cx="10" cy="10" r="7"/><circle cx="10" cy="10" r="3" fill="#ffffff"/>'));
write("actions/session.svg", glyph('<rect x="3" y="3" width="14" height="14" rx="2"/><path d="M3 7.5h14"/><path d="M7 11.5h6"/>'));
write("actions/control.svg", glyph('<path d="M6 4l8 6-8 6z" fill="#ffffff"/>'));
write("plugin/category.svg", glyph('<circle cx="10" cy="10" r="7"/><circle cx="10" cy="10" r="3" fill="#ffffff"/>', 28));

// Keys before the plugin draws them: the plugin's own look, in grey.
const agentKey = face("global", { bg: [28, 28, 28], bar: [90, 90, 90], header: "AGENT", title: "agentlight", marker: "ring" });
write("actions/agent-key.svg", renderKey(agentKey, 72) + "\n");
write("actions/session-key.svg", renderKey(face("session", { bg: [0, 0, 0], bar: [50, 50, 50], header: "SESSION", fg: [150, 150, 150] }), 72) + "\n");
write("actions/control-key.svg", renderKey(pageFace(0, 1, [], true), 72) + "\n");

// The marketplace icon: a working Agent key, as big as the store shows it.
const require = createRequire(import.meta.url);
await initWasm(fs.readFileSync(require.resolve("@resvg/resvg-wasm/index_bg.wasm")));
const icon = renderKey(face("global", { bg: [0, 57, 130], bar: [0, 112, 255], header: "AGENT", title: "Working", lines: ["agentlight"], marker: "dot" }), 144);
for (const [name, size] of [["plugin/marketplace.png", 256], ["plugin/marketplace@2x.png", 512]]) {
	write(name, new Resvg(icon, { fitTo: { mode: "width", value: size } }).render().asPng());
}
console.log("icons written");
