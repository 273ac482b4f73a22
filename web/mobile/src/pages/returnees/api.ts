import { http } from '@shared/index'

export interface ReturneeItem {
  id: string
  name_masked: string
  id_number_masked: string
  phone_masked: string
  origin_province: string
  origin_city: string
  origin_risk_area: boolean
  port_of_entry: string
  arrived_at: string
  transport: string
  transport_no: string
  destination_text: string
  resolved_path: string
  health_code: 'green' | 'yellow' | 'red'
  status: 'routing' | 'dispatched' | 'acknowledged' | 'monitoring' | 'released'
  status_label: string
  unit_id: string
  unit_name: string | null
  received_at: string
  acknowledged_at: string | null
  enrolled_at: string | null
  monitoring_until: string | null
  monitoring_due: boolean
  last_check_in_day: string | null
  overdue: boolean
  ack_overdue: boolean
  check_in_overdue_day: string | null
  open_anomalies: number
}

export interface ReturneeDetail extends ReturneeItem {
  registration_id: string
  actual_address: string | null
  contact_phone_masked: string | null
  household_size: number | null
  household_note: string
  monitoring_plan: string | null
  monitoring_days: number | null
  released_at: string | null
  history: { id: string; kind: string; actor_name: string | null; at: string; note: string; to_unit_name?: string }[]
  check_ins: { id: string; day: string; temperature: number; symptoms: string[]; note: string; recorded_by_name: string }[]
  anomalies: { id: string; kind_label: string; description: string; status: string; reported_at: string; resolution: string }[]
}

const base = '/returnees'
export const listReturnees = (query: Record<string, string | number | boolean | undefined>) =>
  http.get<{ items: ReturneeItem[]; next_before: string | null }>(base, query)
export const getReturnee = (id: string) => http.get<ReturneeDetail>(`${base}/${encodeURIComponent(id)}`)
export const acknowledge = (id: string) => http.post<ReturneeItem>(`${base}/${encodeURIComponent(id)}/acknowledge`, {})
export const enrol = (id: string, body: Record<string, unknown>) =>
  http.post<ReturneeItem>(`${base}/${encodeURIComponent(id)}/enrol`, body)
export const checkIn = (id: string, body: Record<string, unknown>) =>
  http.post(`${base}/${encodeURIComponent(id)}/check-ins`, body)
export const reportAnomaly = (id: string, body: Record<string, unknown>) =>
  http.post(`${base}/${encodeURIComponent(id)}/anomalies`, body)
export const release = (id: string) => http.post<ReturneeItem>(`${base}/${encodeURIComponent(id)}/release`, {})
export const revealPhone = (id: string) =>
  http.post<{ value: string }>('/privacy/reveal', {
    target_type: 'returnee',
    target_id: id,
    field: 'phone',
    reason: '网格员电话联系返乡人员',
  })

export const HISTORY_LABELS: Record<string, string> = {
  dispatched: '分派到村',
  queued: '待人工分派',
  routed: '人工分派',
  reassigned: '转移到其他村',
  acknowledged: '签收',
  enrolled: '登记造册',
  checked_in: '健康监测',
  anomaly_reported: '上报异常',
  anomaly_resolved: '异常已处置',
  released: '解除监测',
  ack_overdue: '超时未签收',
  ack_escalated: '超时上报乡镇',
  check_in_overdue: '漏报健康监测',
  check_in_escalated: '漏报上报乡镇',
}
export const CODE_LABELS: Record<string, string> = { green: '绿码', yellow: '黄码', red: '红码' }
export const STATUS_TAG: Record<string, 'primary' | 'success' | 'warning' | 'danger' | 'default'> = {
  routing: 'default',
  dispatched: 'danger',
  acknowledged: 'warning',
  monitoring: 'primary',
  released: 'success',
}
