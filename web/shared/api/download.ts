/**
 * File downloads go through the server only: fetched with the token, saved as a blob, and
 * each one recorded with POST /api/downloads/log (the server logs its own side as well).
 */
import { http } from './http'

function filenameFromDisposition(header: string | null): string | null {
  if (!header) return null
  const star = /filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)/.exec(header)
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ''))
    } catch {
      /* fall through */
    }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/.exec(header)
  return plain ? plain[1].trim() : null
}

export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob)
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.rel = 'noopener'
  a.style.display = 'none'
  document.body.appendChild(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 30_000)
}

/**
 * Download `path` (an /api URL) as a file.
 * @param fallbackName used when the server sends no Content-Disposition
 * @param kind what is downloaded, for the download log (e.g. "import_report")
 */
export async function downloadFile(path: string, fallbackName: string, kind: string): Promise<string> {
  const response = await http.raw(path, { method: 'GET' })
  const blob = await response.blob()
  const name = filenameFromDisposition(response.headers.get('Content-Disposition')) ?? fallbackName
  saveBlob(blob, name)
  try {
    await http.post('/downloads/log', { name, kind })
  } catch {
    // the server has logged the download already; a failed client-side log must not lose the file
  }
  return name
}
