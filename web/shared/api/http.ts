/**
 * Fetch wrapper for the Zhengding API.
 *
 * - the bearer token lives in sessionStorage (one tab, one session; closing the tab logs out);
 * - every non-2xx answer becomes an ApiError whose `message` is the server's Chinese
 *   `error.message`, never raw JSON;
 * - a 401 (session_expired / unauthenticated) on an authenticated call clears the token and
 *   calls the handler the app registered (which routes back to the login page).
 */

const TOKEN_KEY = 'zd.token'

export interface ApiErrorDetail {
  row?: number
  field?: string
  reason: string
}

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  readonly details: ApiErrorDetail[]

  constructor(status: number, code: string, message: string, details: ApiErrorDetail[] = []) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
  }
}

const STATUS_MESSAGES: Record<number, string> = {
  400: '请求有误',
  401: '登录已失效，请重新登录',
  403: '无权执行此操作',
  404: '无权查看或内容不存在',
  409: '数据已被修改，请刷新后重试',
  413: '文件过大',
  422: '提交的内容不符合要求',
  423: '账号已被锁定，请稍后再试',
  429: '操作过于频繁，请稍后再试',
  500: '服务器内部错误，请稍后再试',
  502: '服务暂时不可用，请稍后再试',
  503: '服务暂时不可用，请稍后再试',
  504: '服务响应超时，请稍后再试',
}

export function getToken(): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function setToken(token: string | null): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token)
  else sessionStorage.removeItem(TOKEN_KEY)
}

type UnauthorizedHandler = (error: ApiError) => void
let unauthorizedHandler: UnauthorizedHandler | null = null

/** The app decides where to go when the session is gone (its login route). */
export function onUnauthorized(handler: UnauthorizedHandler): void {
  unauthorizedHandler = handler
}

const activityListeners = new Set<() => void>()
/** Called after every successful authenticated request (the server's idle clock was reset). */
export function onApiActivity(listener: () => void): () => void {
  activityListeners.add(listener)
  return () => activityListeners.delete(listener)
}

export interface RequestOptions {
  method?: string
  query?: Record<string, string | number | boolean | null | undefined>
  body?: unknown
  /** a FormData body is sent as multipart */
  form?: FormData
  signal?: AbortSignal
  /** do not redirect to login on 401 (login / activation calls) */
  anonymous?: boolean
}

export function buildUrl(path: string, query?: RequestOptions['query']): string {
  const url = path.startsWith('/api') ? path : `/api${path.startsWith('/') ? '' : '/'}${path}`
  if (!query) return url
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue
    params.append(key, String(value))
  }
  const qs = params.toString()
  return qs ? `${url}?${qs}` : url
}

/** Turn a failed Response into an ApiError with a readable Chinese message. */
export async function toApiError(response: Response): Promise<ApiError> {
  let code = 'http_' + response.status
  let message = STATUS_MESSAGES[response.status] ?? `请求失败（${response.status}）`
  let details: ApiErrorDetail[] = []
  try {
    const text = await response.text()
    const body = text ? JSON.parse(text) : null
    const err = body && typeof body === 'object' ? body.error : null
    if (err && typeof err === 'object') {
      if (typeof err.code === 'string') code = err.code
      if (typeof err.message === 'string' && err.message.trim()) message = err.message
      if (Array.isArray(err.details)) {
        details = err.details
          .filter((d: unknown) => d && typeof d === 'object')
          .map((d: Record<string, unknown>) => ({
            row: typeof d.row === 'number' ? d.row : undefined,
            field: typeof d.field === 'string' ? d.field : undefined,
            reason: typeof d.reason === 'string' ? d.reason : '内容有误',
          }))
      }
    }
  } catch {
    // not JSON (proxy error page, empty body): keep the status message
  }
  return new ApiError(response.status, code, message, details)
}

function authHeaders(): Record<string, string> {
  const token = getToken()
  return token ? { Authorization: `Bearer ${token}` } : {}
}

async function send(path: string, options: RequestOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders() }
  let body: BodyInit | undefined
  if (options.form) {
    body = options.form
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    body = JSON.stringify(options.body)
  }
  let response: Response
  try {
    response = await fetch(buildUrl(path, options.query), {
      method: options.method ?? (body ? 'POST' : 'GET'),
      headers,
      body,
      signal: options.signal,
      credentials: 'same-origin',
    })
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e
    throw new ApiError(0, 'network_error', '网络连接失败，请检查网络后重试')
  }
  if (!response.ok) {
    const error = await toApiError(response)
    if (
      response.status === 401 &&
      !options.anonymous &&
      (error.code === 'session_expired' || error.code === 'unauthenticated' || error.code.startsWith('http_'))
    ) {
      const hadToken = !!getToken()
      setToken(null)
      if (hadToken && unauthorizedHandler) unauthorizedHandler(error)
    }
    throw error
  }
  if (getToken()) activityListeners.forEach((l) => l())
  return response
}

export async function request<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
  const response = await send(path, options)
  if (response.status === 204) return undefined as T
  const text = await response.text()
  if (!text) return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new ApiError(response.status, 'bad_response', '服务器返回的数据无法解析')
  }
}

export const http = {
  get: <T>(path: string, query?: RequestOptions['query'], signal?: AbortSignal) =>
    request<T>(path, { method: 'GET', query, signal }),
  post: <T>(path: string, body?: unknown, extra: Partial<RequestOptions> = {}) =>
    request<T>(path, { method: 'POST', body: body ?? {}, ...extra }),
  patch: <T>(path: string, body: unknown) => request<T>(path, { method: 'PATCH', body }),
  delete: <T>(path: string) => request<T>(path, { method: 'DELETE' }),
  upload: <T>(path: string, form: FormData) => request<T>(path, { method: 'POST', form }),
  /** raw response (blobs); errors are still ApiError */
  raw: (path: string, options: RequestOptions = {}) => send(path, options),
}

/** A message to show for anything thrown by an API call. */
export function errorMessage(e: unknown, fallback = '操作失败，请稍后再试'): string {
  if (e instanceof ApiError) return e.message
  if (e instanceof Error && e.name === 'AbortError') return '请求已取消'
  return fallback
}
