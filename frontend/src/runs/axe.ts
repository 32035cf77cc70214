// Test helper: axe-core's serious and critical findings on the rendered page (colour
// contrast aside: jsdom computes no styles), as "rule: target" lines.
import axe from "axe-core";

export async function seriousViolations(): Promise<string[]> {
  const result = await axe.run(document.body, { rules: { "color-contrast": { enabled: false } } });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.map((node) => `${v.id}: ${node.target.join(" ")}`));
}
