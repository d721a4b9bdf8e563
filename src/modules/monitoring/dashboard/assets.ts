/**
 * The dashboard's files, embedded at build time (Bun `with { type: "file" }`) so that the single compiled binary
 * serves them with no network and no files beside it. Chart.js is served from here, never from a CDN.
 */
// @ts-ignore: a file asset import gives its path (inside the binary's virtual filesystem when compiled).
import chartJsAsset from "../../../../node_modules/chart.js/dist/chart.umd.min.js" with { type: "file" };
// @ts-ignore: as above; without `type: "file"` Bun would bundle the page as an app.
import pageAsset from "./page.html" with { type: "file" };

const chartJsFile = chartJsAsset as unknown as string;
const pageFile = pageAsset as unknown as string;

const cache = new Map<string, string>();

async function read(path: string): Promise<string> {
  let text = cache.get(path);
  if (text === undefined) {
    text = await Bun.file(path).text();
    cache.set(path, text);
  }
  return text;
}

export async function dashboardAsset(asset: "page" | "chart.js"): Promise<{ body: string; contentType: string }> {
  if (asset === "chart.js") return { body: await read(chartJsFile), contentType: "text/javascript; charset=utf-8" };
  return { body: await read(pageFile), contentType: "text/html; charset=utf-8" };
}
