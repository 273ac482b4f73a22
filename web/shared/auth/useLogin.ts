/**
 * The login page's logic, shared by both apps; each app keeps only its form components.
 *
 * Steps: password → (TOTP code | TOTP enrolment required by the role) → the page asked for.
 * - a TOTP step pending from before a reload continues; any other leftover token is dropped;
 * - a lockout (423, or the failure that locks the account) stays on the page as `lockMessage`
 *   until another account name is typed; other errors go to the app's `onError` (a toast);
 * - the redirect after login is an in-app path only (`/…`, never `//host` or the login page).
 */
import { computed, onMounted, ref, watch, type Ref } from 'vue'
import { useRoute, useRouter } from 'vue-router'
import { ApiError } from '../api/http'
import type { MfaState } from '../api/types'
import { endSession, SESSION_END_MESSAGES, type SessionEndReason } from './session'
import { auth } from './store'

export type LoginStep = 'password' | Exclude<MfaState, 'none'>

export interface LoginOptions {
  /** how the app shows an error (toast / message) */
  onError: (e: unknown, fallback?: string) => void
}

export const ACTIVATED_NOTICE = '账号已激活，请使用手机号和新密码登录'
export const TOTP_CODE = /^\d{6}$/

/** The in-app path to open after login: `/…` only (no `//host`, no login page), else the home page. */
export function safeRedirect(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/'
  return value === '/login' || value.startsWith('/login?') ? '/' : value
}

/** The message of an error that locked the account, or null. */
export function lockoutMessage(e: unknown): string | null {
  if (!(e instanceof ApiError)) return null
  if (e.status === 423 || e.code === 'locked') return e.message
  // the failure that crosses the limit answers 401 and says the account is now locked
  return e.status === 401 && e.message.includes('锁定') ? e.message : null
}

/**
 * Send a 6-digit code once (a second click while it is in flight does nothing); a refused code
 * is cleared for the next try. True when it was accepted.
 */
export async function sendTotpCode(
  code: Ref<string>,
  submitting: Ref<boolean>,
  call: (code: string) => Promise<void>,
  onError: (e: unknown) => void,
): Promise<boolean> {
  if (submitting.value || !TOTP_CODE.test(code.value)) return false
  submitting.value = true
  try {
    await call(code.value)
    return true
  } catch (e) {
    code.value = ''
    onError(e)
    return false
  } finally {
    submitting.value = false
  }
}

function stepOf(mfa: MfaState): LoginStep {
  return mfa === 'setup_required' ? 'setup_required' : 'required'
}

export function useLogin(options: LoginOptions) {
  const route = useRoute()
  const router = useRouter()

  const login = ref(typeof route.query.login === 'string' ? route.query.login : '')
  const password = ref('')
  const code = ref('')
  const step = ref<LoginStep>('password')
  const submitting = ref(false)
  const lockMessage = ref('')
  /** the account name the lockout was answered for */
  let lockedLogin = ''

  const notice = computed(() => {
    if (route.query.activated) return ACTIVATED_NOTICE
    const reason = route.query.reason as SessionEndReason | undefined
    return reason && SESSION_END_MESSAGES[reason] ? SESSION_END_MESSAGES[reason] : ''
  })
  const codeComplete = computed(() => TOTP_CODE.test(code.value))

  watch(login, (value) => {
    if (lockMessage.value && value.trim() !== lockedLogin) lockMessage.value = ''
  })

  onMounted(() => {
    if (auth.hasToken() && auth.state.mfa !== 'none') step.value = stepOf(auth.state.mfa)
    else if (auth.hasToken()) endSession()
  })

  async function submitPassword(): Promise<void> {
    if (submitting.value) return
    const name = login.value.trim()
    submitting.value = true
    try {
      const mfa = await auth.login(name, password.value)
      password.value = ''
      lockMessage.value = ''
      if (mfa === 'none') finish()
      else step.value = stepOf(mfa)
    } catch (e) {
      const locked = lockoutMessage(e)
      if (locked) {
        // shown on the page, where it stays: not a toast as well
        lockMessage.value = locked
        lockedLogin = name
      } else {
        options.onError(e, '登录失败，请稍后再试')
      }
    } finally {
      submitting.value = false
    }
  }

  async function submitCode(): Promise<void> {
    if (await sendTotpCode(code, submitting, auth.verifyTotp, (e) => options.onError(e, '动态码验证失败，请重试'))) finish()
  }

  /** Back to the password step: the half-open session is dropped. */
  function restart(): void {
    endSession()
    step.value = 'password'
    code.value = ''
  }

  function finish(): void {
    void router.replace(safeRedirect(route.query.redirect))
  }

  return { login, password, code, codeComplete, step, submitting, notice, lockMessage, submitPassword, submitCode, restart, finish }
}
