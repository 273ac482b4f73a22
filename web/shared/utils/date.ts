/** Dates are shown in Asia/Shanghai whatever the device's time zone. */
const TZ = 'Asia/Shanghai'

const dateTimeFmt = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TZ,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
  hour: '2-digit',
  minute: '2-digit',
  second: '2-digit',
  hourCycle: 'h23',
})

function parts(value: Date): Record<string, string> {
  const out: Record<string, string> = {}
  for (const p of dateTimeFmt.formatToParts(value)) out[p.type] = p.value
  return out
}

function toDate(value: string | number | Date | null | undefined): Date | null {
  if (value === null || value === undefined || value === '') return null
  const d = value instanceof Date ? value : new Date(value)
  return Number.isNaN(d.getTime()) ? null : d
}

/** 2022-01-25 14:03:09 */
export function formatDateTime(value: string | number | Date | null | undefined, empty = '—'): string {
  const d = toDate(value)
  if (!d) return empty
  const p = parts(d)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`
}

/** 2022-01-25 */
export function formatDate(value: string | number | Date | null | undefined, empty = '—'): string {
  const d = toDate(value)
  if (!d) return empty
  const p = parts(d)
  return `${p.year}-${p.month}-${p.day}`
}

/** 2022-01-25 14:03 (watermarks) */
export function formatMinute(value: string | number | Date = new Date()): string {
  const d = toDate(value) ?? new Date()
  const p = parts(d)
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}`
}
