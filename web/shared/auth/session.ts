/**
 * What runs while someone is signed in, identical in both apps: the watermark, the idle
 * timeout and the realtime connection. `startSession` after login or restore,
 * `endSession` on logout, idle timeout or a 401 from the API.
 */
import { onUnauthorized } from '../api/http'
import { realtime } from '../realtime'
import { hideWatermark, showWatermark, watermarkLines } from '../watermark'
import { watchIdle, type IdleWatch } from './idle'
import { auth } from './store'

export type SessionEndReason = 'idle' | 'expired' | 'logout'

let idle: IdleWatch | null = null
let endHandler: ((reason: SessionEndReason) => void) | null = null

/** Where to go when the session ends by itself (the app's login route). */
export function onSessionEnd(handler: (reason: SessionEndReason) => void): void {
  endHandler = handler
  // the socket was closed with 4401 (session revoked or expired on the server)
  realtime.bus.on('realtime.session_ended', () => {
    if (!idle && !auth.state.me) return
    endSession()
    handler('expired')
  })
  onUnauthorized(() => {
    if (!idle && !auth.state.me) return
    endSession()
    handler('expired')
  })
}

export function startSession(): void {
  const me = auth.state.me
  if (!me) return
  showWatermark(() => watermarkLines(auth.state.me?.name, auth.state.me?.phone_last4))
  idle?.stop()
  const fallback = me.is_admin ? 15 * 60 : 30 * 60
  idle = watchIdle(me.idle_timeout_seconds > 0 ? me.idle_timeout_seconds : fallback, () => {
    void auth.logout().finally(() => {
      endSession()
      endHandler?.('idle')
    })
  })
  realtime.start(me.id)
}

export function isSessionRunning(): boolean {
  return idle !== null
}

export function endSession(): void {
  idle?.stop()
  idle = null
  realtime.stop()
  hideWatermark()
  auth.clear()
}

export const SESSION_END_MESSAGES: Record<SessionEndReason, string> = {
  idle: '长时间未操作，已自动退出，请重新登录',
  expired: '登录已失效，请重新登录',
  logout: '您已安全退出',
}
