/**
 * The signed-in user, shared by both apps.
 *
 * Login is two-step for accounts whose role requires TOTP: the token from /auth/login is
 * valid only for /auth/totp/* until the code is verified (mfa "required") or enrolled
 * (mfa "setup_required"). The pending state survives a reload through sessionStorage.
 */
import { computed, reactive, readonly } from 'vue'
import { ApiError, getToken, http, setToken } from '../api/http'
import { realtime } from '../realtime'
import type { LoginAnswer, Me, MfaState, TotpSetup } from '../api/types'

const MFA_KEY = 'zd.mfa'

interface AuthState {
  me: Me | null
  mfa: MfaState
  loading: boolean
}

const state = reactive<AuthState>({
  me: null,
  mfa: (sessionStorage.getItem(MFA_KEY) as MfaState | null) ?? 'none',
  loading: false,
})

function setMfa(mfa: MfaState): void {
  state.mfa = mfa
  if (mfa === 'none') sessionStorage.removeItem(MFA_KEY)
  else sessionStorage.setItem(MFA_KEY, mfa)
}

function clear(): void {
  setToken(null)
  setMfa('none')
  state.me = null
}

export const auth = {
  state: readonly(state),
  isLoggedIn: computed(() => !!state.me && state.mfa === 'none'),
  hasToken: () => !!getToken(),

  hasPerm(perm: string | string[]): boolean {
    const perms = state.me?.permissions ?? []
    const wanted = Array.isArray(perm) ? perm : [perm]
    return wanted.some((p) => perms.includes(p))
  },

  async login(login: string, password: string): Promise<MfaState> {
    const answer = await http.post<LoginAnswer>('/auth/login', { login, password }, { anonymous: true })
    setToken(answer.token)
    state.me = answer.me
    setMfa(answer.mfa)
    return answer.mfa
  },

  async verifyTotp(code: string): Promise<void> {
    const answer = await http.post<{ mfa: MfaState; me: Me }>('/auth/totp/verify', { code }, { anonymous: true })
    state.me = answer.me
    setMfa(answer.mfa)
  },

  setupTotp(): Promise<TotpSetup> {
    return http.post<TotpSetup>('/auth/totp/setup', {}, { anonymous: state.mfa !== 'none' })
  },

  async confirmTotp(code: string): Promise<void> {
    const answer = await http.post<{ mfa: MfaState; me: Me }>('/auth/totp/confirm', { code }, {
      anonymous: state.mfa !== 'none',
    })
    state.me = answer.me
    setMfa(answer.mfa)
  },

  /** Load `me` for a token kept from before a reload. False when there is no valid session. */
  async restore(): Promise<boolean> {
    if (!getToken()) {
      clear()
      return false
    }
    if (state.me && state.mfa === 'none') return true
    if (state.mfa !== 'none') return false
    state.loading = true
    try {
      state.me = await http.get<Me>('/auth/me')
      return true
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        if (e.code === 'mfa_required') setMfa('required')
        else clear()
      }
      return false
    } finally {
      state.loading = false
    }
  },

  async refreshMe(): Promise<void> {
    state.me = await http.get<Me>('/auth/me')
  },

  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    const answer = await http.post<{ token: string; expires_at: string }>('/auth/password', {
      old_password: oldPassword,
      new_password: newPassword,
    })
    if (answer?.token) setToken(answer.token)
  },

  async logout(): Promise<void> {
    // our own logout revokes the session: its socket's 4401 must not read as "expired"
    realtime.stop()
    if (getToken()) {
      try {
        await http.post('/auth/logout', {}, { anonymous: true })
      } catch {
        // the session may be gone already; logging out locally is what matters
      }
    }
    clear()
  },

  /** Forget the session locally (401 from the API, idle timeout). */
  clear,
}

/** Password policy as explained to the user; the server enforces it. */
export const PASSWORD_MIN_LENGTH = 10
export const PASSWORD_POLICY_TEXT = '密码至少 10 位，不能使用常见密码（如 1234567890、password123、姓名或手机号），建议混合字母、数字和符号。'

export function checkPassword(password: string): string | null {
  if (password.length < PASSWORD_MIN_LENGTH) return `密码至少需要 ${PASSWORD_MIN_LENGTH} 位`
  if (/^(\d)\1+$/.test(password) || /^(0123456789|1234567890|9876543210)/.test(password)) return '密码过于简单，请换一个'
  return null
}
