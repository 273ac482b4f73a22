/**
 * Idle timeout: after `me.idle_timeout_seconds` without any user interaction the session is
 * ended locally and `onTimeout` routes back to login. The server expires the session on its
 * own clock as well (401 session_expired), which the API client handles.
 */
const EVENTS = ['pointerdown', 'keydown', 'touchstart', 'wheel', 'scroll'] as const

export interface IdleWatch {
  stop(): void
  touch(): void
}

export function watchIdle(timeoutSeconds: number, onTimeout: () => void): IdleWatch {
  let last = Date.now()
  let stopped = false
  const touch = () => {
    last = Date.now()
  }
  const check = () => {
    if (stopped) return
    if (Date.now() - last >= timeoutSeconds * 1000) {
      watch.stop()
      onTimeout()
    }
  }
  EVENTS.forEach((e) => window.addEventListener(e, touch, { passive: true, capture: true }))
  // a tab in the background has its timers throttled; check again as soon as it is visible
  const onVisible = () => document.visibilityState === 'visible' && check()
  document.addEventListener('visibilitychange', onVisible)
  const timer = window.setInterval(check, Math.min(15_000, Math.max(1000, (timeoutSeconds * 1000) / 4)))
  const watch: IdleWatch = {
    stop() {
      stopped = true
      window.clearInterval(timer)
      EVENTS.forEach((e) => window.removeEventListener(e, touch, { capture: true }))
      document.removeEventListener('visibilitychange', onVisible)
    },
    touch,
  }
  return watch
}
