/** Shared by the registry-following tests: one OIP request to a [N, 4] → [N, 3] MLP, and polling. */

export const ROW = [0.5, -1, 2, 0.25];

export async function infer(base: string, model: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}/v2/models/${model}/infer`, {
    method: "POST",
    body: JSON.stringify({ inputs: [{ name: "x", datatype: "FP32", shape: [1, 4], data: ROW }] }),
  });
  return { status: res.status, body: await res.json() };
}

export async function waitFor(cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met within ${ms} ms`);
    await Bun.sleep(25);
  }
}
