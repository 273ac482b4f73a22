/** Vant's function APIs with their styles (the template resolver covers components only). */
import { closeToast, showConfirmDialog, showFailToast, showLoadingToast, showSuccessToast, showToast } from 'vant'
import 'vant/es/toast/style'
import 'vant/es/dialog/style'
import { errorMessage } from '@shared/index'

export { closeToast, showConfirmDialog, showFailToast, showLoadingToast, showSuccessToast, showToast }

export function toastError(e: unknown, fallback?: string): void {
  showFailToast({ message: errorMessage(e, fallback), wordBreak: 'break-word' })
}

/** A stable id for this browser, sent with the activation (one person, one device). */
export function deviceId(): string {
  const key = 'zd.device_id'
  let id = localStorage.getItem(key)
  if (!id) {
    id = crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`
    localStorage.setItem(key, id)
  }
  return id
}
