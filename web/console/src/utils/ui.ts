/** Element Plus function APIs with their styles (the template resolver covers components only). */
import { ElMessage, ElMessageBox } from 'element-plus'
import 'element-plus/es/components/message/style/css'
import 'element-plus/es/components/message-box/style/css'
import { errorMessage } from '@shared/index'

export { ElMessage, ElMessageBox }

export function notifyError(e: unknown, fallback?: string): void {
  ElMessage({ type: 'error', message: errorMessage(e, fallback), showClose: true, duration: 5000 })
}

export function notifySuccess(message: string): void {
  ElMessage({ type: 'success', message })
}

/** true when the user confirmed */
export async function confirmAction(message: string, title = '请确认'): Promise<boolean> {
  try {
    await ElMessageBox.confirm(message, title, { type: 'warning', confirmButtonText: '确定', cancelButtonText: '取消' })
    return true
  } catch {
    return false
  }
}
