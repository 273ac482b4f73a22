/**
 * HTML built from data. Most of the UI is Vue templates, which escape by themselves; the
 * places that take an HTML string (ECharts tooltip/label formatters, anything with
 * `dangerouslyUseHTMLString` / `allowHtml` / `v-html`) must pass every data value through
 * `escapeHtml`, or build plain text instead.
 */
const ENTITIES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
}

/** The text of `value` as HTML text or attribute content: nothing in it is markup. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ENTITIES[c])
}
