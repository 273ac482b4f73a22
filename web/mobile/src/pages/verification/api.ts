import { http, type Page } from '@shared/index'
import type { TaskStatus, Task, TaskDetail, Transfer } from '@shared/verification/types'
export * from '@shared/verification/types'

export const STATUS_TAG: Record<TaskStatus, 'default' | 'primary' | 'warning' | 'success' | 'danger'> = {
  pending: 'default',
  dispatched: 'primary',
  in_progress: 'warning',
  replied: 'danger',
  closed: 'success',
}

export const HEALTH_STATUSES = ['正常', '发热', '咳嗽等症状', '已就医', '其他']
export const MEASURES = ['无需管控', '居家健康监测', '居家隔离', '集中隔离', '送医', '已离开本辖区', '其他']

export interface ReplyBody {
  found: boolean
  location: string
  contact: string
  health_status: string
  measure: string
  note: string
  photo_ids: string[]
}

const base = '/verification'
const enc = encodeURIComponent

export const listTasks = (query: Record<string, string | number | boolean | undefined>) =>
  http.get<Page<Task>>(`${base}/tasks`, query)
export const getTask = (id: string) => http.get<TaskDetail>(`${base}/tasks/${enc(id)}`)
export const replyTask = (id: string, body: ReplyBody) => http.post<{ ok: boolean }>(`${base}/tasks/${enc(id)}/reply`, body)
export function uploadPhoto(id: string, file: Blob, name: string) {
  const form = new FormData()
  form.append('file', file, name)
  return http.upload<{ id: string; content_type: string }>(`${base}/tasks/${enc(id)}/photos`, form)
}
export const reviewTask = (id: string, accept: boolean, reason = '') =>
  http.post<{ ok: boolean; status: TaskStatus }>(`${base}/tasks/${enc(id)}/review`, { accept, reason })
export const requestTransfer = (id: string, toUnitId: string, reason: string) =>
  http.post<{ id: string; status: string }>(`${base}/tasks/${enc(id)}/transfer`, { to_unit_id: toUnitId, reason })
export const listTransfers = (box: 'in' | 'out' | 'all', status?: string) =>
  http.get<Page<Transfer>>(`${base}/transfers`, { box, status, page_size: 100 })
export const acceptTransfer = (id: string) => http.post(`${base}/transfers/${enc(id)}/accept`, {})
export const rejectTransfer = (id: string, reason: string) => http.post(`${base}/transfers/${enc(id)}/reject`, { reason })
export const revealPhone = (id: string) =>
  http.post<{ value: string }>('/privacy/reveal', {
    target_type: 'verification_task',
    target_id: id,
    field: 'phone',
    reason: '网格员电话联系核查对象',
  })

/** A reply photo fetched with the token: an object URL (revoke it when done). */
export async function photoUrl(id: string): Promise<string> {
  const response = await http.raw(`${base}/photos/${enc(id)}`)
  return URL.createObjectURL(await response.blob())
}

/** my tasks first the ones to do (in progress, the returned ones first), then the others */
export function todoRank(t: Task): number {
  if (t.status === 'in_progress' && !t.transferring) return t.overdue ? 0 : 1
  if (t.status === 'in_progress') return 2
  if (t.status === 'replied') return 3
  return 4
}
