import { http, type Page } from '@shared/index'

export interface AuditEntry {
  seq: number
  at: string
  actor_name: string | null
  role: string | null
  unit_name: string | null
  ip: string | null
  action: string
  target_type: string | null
  target_id: string | null
  result: string
  request_id: string | null
}

export interface VerifyResult {
  ok: boolean
  checked: number
  problems: { position: number; kind: string; detail: string }[]
}

export const listAudit = (query: { action?: string; actor_id?: string; page: number; page_size?: number }) =>
  http.get<Page<AuditEntry>>('/audit', { ...query })

export const verifyChain = () => http.post<VerifyResult>('/audit/verify')

export const RESULT_LABELS: Record<string, string> = { ok: '成功', success: '成功', denied: '拒绝', failed: '失败', error: '失败' }
