/** Inbox, DING and delivery-administration calls (src/zhengding/notify/router.py). */
import { http } from '../api/http'

export interface Notification {
  id: string
  kind: string
  title: string
  body: string
  link: string | null
  object_type: string | null
  object_id: string | null
  sender_id: string | null
  read: boolean
  read_at: string | null
  created_at: string
}

export interface NotificationPage {
  items: Notification[]
  unread_count: number
  next_before: string | null
}

export interface Ding {
  id: string
  sender_id: string
  sender_name: string
  content: string
  object_type: string | null
  object_id: string | null
  recipient_count: number
  escalate_after_minutes: number
  sms_enabled: boolean
  last_reminded_at: string | null
  created_at: string
  /** lists */
  read_count?: number
  unread_count?: number
  /** as a recipient */
  my_read_at?: string | null
}

export interface DingRecipient {
  user_id: string
  name: string
  unit_name: string | null
  read_at: string | null
  sms_at: string | null
  remind_count: number
  last_reminded_at: string | null
}

export interface DingDetail extends Ding {
  /** the sender only */
  read?: DingRecipient[]
  unread?: DingRecipient[]
}

export interface DingCreate {
  content: string
  user_ids: string[]
  unit_ids: string[]
  escalate_after_minutes?: number | null
  sms?: boolean
}

/** `notify.ding.received` */
export interface DingReceivedEvent {
  ding_id: string
  sender_id: string
  sender_name: string
  content: string
  title: string
  link: string
  created_at: string
}

/** `notify.ding.read` (to the sender) */
export interface DingReadEvent {
  ding_id: string
  user_id: string
  name: string
  read_at: string
  read_count: number
  unread_count: number
}

/** `notify.ding.reminded` (to the still-unread recipients) */
export interface DingRemindedEvent {
  ding_id: string
  sender_name: string
  content: string
  link: string
  reminded_at: string
}

export interface OutboxRow {
  id: string
  handler: string
  payload: Record<string, unknown>
  status: 'pending' | 'running' | 'done' | 'dead'
  attempts: number
  available_at: string | null
  last_error: string | null
  created_at: string
  done_at: string | null
}

export interface SmsMessage {
  id: string
  user_id: string | null
  phone_masked: string
  purpose: string | null
  template: string
  status: string
  provider: string | null
  error: string | null
  object_type: string | null
  object_id: string | null
  created_at: string
  sent_at: string | null
  delivered_at: string | null
}

export const DING_SEND = 'notify.ding.send'

export const notifyApi = {
  list: (query: { unread?: boolean; kind?: string; before?: string | null; limit?: number } = {}) =>
    http.get<NotificationPage>('/notifications', {
      unread: query.unread ? 'true' : undefined,
      kind: query.kind,
      before: query.before ?? undefined,
      limit: query.limit,
    }),
  unreadCount: () => http.get<{ unread_count: number }>('/notifications/unread-count'),
  readOne: (id: string) => http.post<{ unread_count: number }>(`/notifications/${encodeURIComponent(id)}/read`),
  readMany: (ids: string[]) => http.post<{ unread_count: number }>('/notifications/read', { ids }),
  readAll: (kind?: string) => http.post<{ updated: number; unread_count: number }>('/notifications/read-all', kind ? { kind } : {}),

  sendDing: (body: DingCreate) => http.post<DingDetail>('/ding', body),
  sentDings: (before?: string | null, limit = 20) => http.get<Ding[]>('/ding/sent', { before: before ?? undefined, limit }),
  receivedDings: (query: { unread?: boolean; before?: string | null; limit?: number } = {}) =>
    http.get<Ding[]>('/ding/received', {
      unread: query.unread ? 'true' : undefined,
      before: query.before ?? undefined,
      limit: query.limit,
    }),
  ding: (id: string) => http.get<DingDetail>(`/ding/${encodeURIComponent(id)}`),
  confirmDing: (id: string) => http.post<{ ding_id: string; read_at: string | null }>(`/ding/${encodeURIComponent(id)}/confirm`),
  remindDing: (id: string, sms = false) =>
    http.post<{ ding_id: string; reminded: number; sms: boolean }>(`/ding/${encodeURIComponent(id)}/remind`, { sms }),

  outbox: (status: OutboxRow['status'] = 'dead', before?: string | null) =>
    http.get<{ items: OutboxRow[]; counts: Record<string, number> }>('/outbox', { status, before: before ?? undefined }),
  retryOutbox: (id: string) => http.post<OutboxRow>(`/outbox/${encodeURIComponent(id)}/retry`),
  sms: (status?: string, before?: string | null) =>
    http.get<SmsMessage[]>('/sms', { status, before: before ?? undefined }),
}

export const KIND_LABELS: Record<string, string> = {
  ding: 'DING',
  alert: '警报',
  system: '系统',
  returnees: '返乡人员',
  verification: '核查',
  supervision: '督办',
}

export const OUTBOX_HANDLER_LABELS: Record<string, string> = {
  'notify.ding.escalate': 'DING 未读短信提醒',
  'notify.notification.escalate': '通知未读短信提醒',
  'notify.deliver': '通知投递',
  'notify.sms.send': '短信发送',
}

export const SMS_STATUS_LABELS: Record<string, string> = {
  queued: '排队中',
  sent: '已发送',
  delivered: '已送达',
  failed: '失败',
  rate_limited: '超频限制',
}
