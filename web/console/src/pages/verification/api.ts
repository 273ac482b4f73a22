import { buildUrl, getToken, http, toApiError, type Page } from '@shared/index'
import type { TaskStatus, Batch, ImportResult, Task, TaskDetail, Transfer } from '@shared/verification/types'
export * from '@shared/verification/types'

export const STATUS_TAG: Record<TaskStatus, 'info' | 'primary' | 'warning' | 'success' | 'danger'> = {
  pending: 'info',
  dispatched: 'primary',
  in_progress: 'warning',
  replied: 'danger',
  closed: 'success',
}
export const STATUS_COLORS: Record<TaskStatus, string> = {
  pending: '#909399',
  dispatched: '#1a5fd1',
  in_progress: '#e6a23c',
  replied: '#b37feb',
  closed: '#67c23a',
}

export interface StatRow {
  total: number
  pending: number
  dispatched: number
  in_progress: number
  replied: number
  closed: number
  overdue: number
  transferring: number
  transfer_in: number
  transfer_out: number
  transfer_rejected: number
  transfer_refused: number
  open: number
  completion_rate: number
  median_reply_hours: number | null
  mean_reply_hours: number | null
  [key: string]: number | string | null | undefined
}

export interface UnitStatRow extends StatRow {
  id: string
  name: string
  level: number
  kind: string
}

export interface UnitStats {
  unit: UnitStatRow
  children: UnitStatRow[]
}

export interface BatchStatRow extends StatRow {
  batch_id: string
  name: string
  created_at: string | null
  deadline: string | null
}

export interface DailyStatRow extends StatRow {
  day: string
}

export interface Assignee {
  id: string
  name: string
  unit_id: string
  unit_name: string
  position: string | null
}

export interface TaskQuery {
  batch_id?: string
  status?: string
  unit_id?: string
  mine?: boolean
  review?: boolean
  overdue?: boolean
  waiting?: boolean
  q?: string
  page?: number
  page_size?: number
}

export interface DispatchBody {
  task_ids?: string[]
  batch_id?: string
  unit_id?: string
  user_id?: string
  by_clue?: boolean
  deadline?: string
}

export interface StatQuery {
  unit_id?: string
  batch_id?: string
  from?: string
  to?: string
}

const base = '/verification'
const enc = encodeURIComponent

export const listBatches = () => http.get<Batch[]>(`${base}/batches`)
export const setBatchDeadline = (id: string, deadline: string) =>
  http.post<Batch>(`${base}/batches/${enc(id)}/deadline`, { deadline })
export const batchReportPath = (id: string) => `/api${base}/batches/${enc(id)}/report`
export const listTasks = (query: TaskQuery) => http.get<Page<Task>>(`${base}/tasks`, { ...query })
export const getTask = (id: string) => http.get<TaskDetail>(`${base}/tasks/${enc(id)}`)
export const dispatchTasks = (body: DispatchBody) =>
  http.post<{ dispatched: number; skipped: { task_id: string; reason: string }[] }>(`${base}/tasks/dispatch`, body)
export const getAssignees = (unitId: string) => http.get<Assignee[]>(`${base}/units/${enc(unitId)}/assignees`)
export const reviewTask = (id: string, accept: boolean, reason = '') =>
  http.post<{ ok: boolean; status: TaskStatus }>(`${base}/tasks/${enc(id)}/review`, { accept, reason })
export const requestTransfer = (id: string, toUnitId: string, reason: string) =>
  http.post<{ id: string; status: string }>(`${base}/tasks/${enc(id)}/transfer`, { to_unit_id: toUnitId, reason })
export const listTransfers = (box: 'in' | 'out' | 'all', status?: string, page = 1) =>
  http.get<Page<Transfer>>(`${base}/transfers`, { box, status, page, page_size: 50 })
export const acceptTransfer = (id: string) => http.post<{ id: string; status: string }>(`${base}/transfers/${enc(id)}/accept`, {})
export const rejectTransfer = (id: string, reason: string) =>
  http.post<{ id: string; status: string }>(`${base}/transfers/${enc(id)}/reject`, { reason })
/**
 * The server's rows currently lack `replied` (its reply-time bucket filter drops it): derive it
 * from `open` = pending + dispatched + in_progress + replied until the server sends it.
 */
function withReplied<T extends StatRow>(row: T): T {
  if (typeof row.replied !== 'number') {
    row.replied = Math.max(0, Number(row.open ?? 0) - Number(row.pending ?? 0) - Number(row.dispatched ?? 0) - Number(row.in_progress ?? 0))
  }
  return row
}

export const unitStats = async (q: StatQuery) => {
  const answer = await http.get<UnitStats>(`${base}/stats`, { ...q })
  withReplied(answer.unit)
  answer.children.forEach(withReplied)
  return answer
}
export const batchStats = async (q: StatQuery) =>
  (await http.get<BatchStatRow[]>(`${base}/stats/batches`, { unit_id: q.unit_id, from: q.from, to: q.to })).map(withReplied)
export const dailyStats = async (q: StatQuery) => (await http.get<DailyStatRow[]>(`${base}/stats/daily`, { ...q })).map(withReplied)
export const statsExportPath = (q: StatQuery) => buildUrl(`${base}/stats/export`, { ...q })
export const tasksExportPath = (q: { batch_id?: string; status?: string; unit_id?: string }) =>
  buildUrl(`${base}/tasks/export`, { ...q })
export const photoPath = (id: string) => `/api${base}/photos/${enc(id)}`
export const revealTaskField = (id: string, field: 'name' | 'id_number' | 'phone', reason: string) =>
  http.post<{ value: string }>('/privacy/reveal', { target_type: 'verification_task', target_id: id, field, reason })

/** A photo of a reply, fetched with the token (never a bare URL): an object URL to revoke later. */
export async function photoUrl(id: string): Promise<string> {
  const response = await http.raw(photoPath(id))
  return URL.createObjectURL(await response.blob())
}

/**
 * Upload a batch with XMLHttpRequest (fetch has no upload progress). `onProgress` gets the
 * fraction of bytes sent; the server's row progress comes as live events (see import.vue).
 */
export function importBatch(
  form: FormData,
  onProgress: (fraction: number) => void,
): { promise: Promise<ImportResult>; abort: () => void } {
  const xhr = new XMLHttpRequest()
  const promise = new Promise<ImportResult>((resolve, reject) => {
    xhr.open('POST', buildUrl(`${base}/imports`))
    const token = getToken()
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total)
    }
    xhr.onload = async () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText) as ImportResult)
        } catch {
          reject(new Error('服务器返回的数据无法解析'))
        }
      } else {
        reject(await toApiError(new Response(xhr.responseText || null, { status: xhr.status })))
      }
    }
    xhr.onerror = () => reject(new Error('网络连接失败，请检查网络后重试'))
    xhr.onabort = () => reject(new Error('已取消上传'))
    xhr.send(form)
  })
  return { promise, abort: () => xhr.abort() }
}

/** '2022-01-25' in Asia/Shanghai */
export function shanghaiDay(d: Date): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit' }).format(d)
}

export function percentOf(row: StatRow): number {
  return Math.round((row.completion_rate ?? 0) * 1000) / 10
}
