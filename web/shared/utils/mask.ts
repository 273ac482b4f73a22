/**
 * Masking helpers. The server sends personal data masked already; these are for values the
 * client holds itself (what the user typed) and for defence in depth when displaying.
 */
export function maskPhone(phone: string | null | undefined): string {
  if (!phone) return ''
  if (phone.includes('*')) return phone
  const digits = phone.replace(/\s+/g, '')
  if (digits.length < 7) return digits.replace(/.(?=.{2})/g, '*')
  return `${digits.slice(0, 3)}****${digits.slice(-4)}`
}

export function maskIdNumber(id: string | null | undefined): string {
  if (!id) return ''
  if (id.includes('*')) return id
  if (id.length <= 10) return id.replace(/.(?=.{4})/g, '*')
  return `${id.slice(0, 6)}${'*'.repeat(id.length - 10)}${id.slice(-4)}`
}

/** 张三 → 张*, 欧阳娜娜 → 欧***; for subjects of records, not colleagues in the directory */
export function maskName(name: string | null | undefined): string {
  if (!name) return ''
  const chars = Array.from(name)
  if (chars.length <= 1) return name
  return chars[0] + '*'.repeat(chars.length - 1)
}

/** A tel: link can only be built from a clear number; masked numbers give no link. */
export function telHref(phone: string | null | undefined): string | null {
  if (!phone || phone.includes('*')) return null
  const clean = phone.replace(/[^\d+]/g, '')
  return clean ? `tel:${clean}` : null
}
