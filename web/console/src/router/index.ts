import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import { auth, isSessionRunning, onSessionEnd, setRouteProtection, startSession } from '@shared/index'
import Layout from '@/layout/index.vue'

declare module 'vue-router' {
  interface RouteMeta {
    title?: string
    public?: boolean
    /** any of these permissions opens the page (and shows its menu entry) */
    perm?: string[]
    icon?: string
    /** the page shows personal data: no copy, no print, no selection */
    personalData?: boolean
    hidden?: boolean
  }
}

export const menuRoutes: RouteRecordRaw[] = [
  { path: '', name: 'dashboard', component: () => import('@/pages/dashboard/index.vue'), meta: { title: '首页', icon: 'HomeFilled' } },
  { path: 'inbox', name: 'inbox', component: () => import('@/pages/notify/inbox.vue'), meta: { title: '消息中心', icon: 'Bell' } },
  { path: 'ding', name: 'ding', component: () => import('@/pages/notify/ding.vue'), meta: { title: 'DING 消息', icon: 'Promotion' } },
  {
    path: 'orgs',
    name: 'orgs',
    component: () => import('@/pages/orgs/index.vue'),
    meta: { title: '组织机构', icon: 'OfficeBuilding', perm: ['orgs.manage', 'directory.read'], personalData: true },
  },
  {
    path: 'accounts',
    name: 'accounts',
    component: () => import('@/pages/accounts/index.vue'),
    meta: { title: '账号管理', icon: 'User', perm: ['accounts.read', 'accounts.manage'], personalData: true },
  },
  {
    path: 'stats/activation',
    name: 'stats-activation',
    component: () => import('@/pages/stats/index.vue'),
    meta: { title: '激活统计', icon: 'DataAnalysis', perm: ['activation.stats'] },
  },
  {
    path: 'supervision',
    name: 'supervision',
    component: () => import('@/pages/supervision/index.vue'),
    meta: { title: '督办看板', icon: 'Document', perm: ['supervision.assign'] },
  },
  {
    path: 'supervision/stats',
    name: 'supervision-stats',
    component: () => import('@/pages/supervision/stats.vue'),
    meta: { title: '督办统计', icon: 'DataAnalysis', perm: ['supervision.assign'] },
  },
  {
    path: 'supervision/todos',
    name: 'supervision-todos',
    component: () => import('@/pages/supervision/todos.vue'),
    meta: { title: '我的督办', icon: 'Document', perm: ['supervision.work'] },
  },
  {
    path: 'verification/batches',
    name: 'verification-batches',
    component: () => import('@/pages/verification/batches.vue'),
    meta: { title: '核查批次', icon: 'Document', perm: ['verification.import', 'verification.stats'] },
  },
  {
    path: 'verification/tasks',
    name: 'verification-tasks',
    component: () => import('@/pages/verification/tasks.vue'),
    meta: { title: '核查任务', icon: 'Document', perm: ['verification.read'], personalData: true },
  },
  {
    path: 'verification/review',
    name: 'verification-review',
    component: () => import('@/pages/verification/tasks.vue'),
    meta: { title: '回单审核', icon: 'Document', perm: ['verification.review'], personalData: true },
  },
  {
    path: 'verification/transfers',
    name: 'verification-transfers',
    component: () => import('@/pages/verification/transfers.vue'),
    meta: { title: '核查转办', icon: 'Document', perm: ['verification.transfer'] },
  },
  {
    path: 'verification/stats',
    name: 'verification-stats',
    component: () => import('@/pages/verification/stats.vue'),
    meta: { title: '核查统计', icon: 'DataAnalysis', perm: ['verification.stats'] },
  },
  {
    path: 'returnees/stats',
    name: 'returnees-stats',
    component: () => import('@/pages/returnees/stats.vue'),
    meta: { title: '返乡统计', icon: 'DataAnalysis', perm: ['returnees.stats'] },
  },
  {
    path: 'returnees',
    name: 'returnees',
    component: () => import('@/pages/returnees/index.vue'),
    meta: { title: '返乡人员', icon: 'User', perm: ['returnees.read'], personalData: true },
  },
  {
    path: 'returnees/routing',
    name: 'returnees-routing',
    component: () => import('@/pages/returnees/routing.vue'),
    meta: { title: '返乡人工分派', icon: 'Document', perm: ['returnees.route'], personalData: true },
  },
  {
    path: 'returnees/anomalies',
    name: 'returnees-anomalies',
    component: () => import('@/pages/returnees/anomalies.vue'),
    meta: { title: '返乡异常处置', icon: 'Document', perm: ['returnees.read'], personalData: true },
  },
  {
    path: 'audit',
    name: 'audit',
    component: () => import('@/pages/audit/index.vue'),
    meta: { title: '审计日志', icon: 'Document', perm: ['audit.read'], personalData: true },
  },
  {
    path: 'delivery',
    name: 'delivery',
    component: () => import('@/pages/notify/outbox.vue'),
    meta: { title: '消息投递', icon: 'Message', perm: ['outbox.read'] },
  },
]

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/pages/login/index.vue'), meta: { public: true, title: '登录' } },
  { path: '/', component: Layout, children: [
    ...menuRoutes,
    { path: 'ding/new', name: 'ding-new', component: () => import('@/pages/notify/ding-new.vue'), meta: { title: '发送 DING', perm: ['notify.ding.send'], hidden: true } },
    { path: 'ding/:id', name: 'ding-detail', component: () => import('@/pages/notify/ding-detail.vue'), meta: { title: 'DING 详情', hidden: true } },
    { path: 'verification', redirect: { name: 'verification-tasks' } },
    // the API docs (/api/docs/, outside this app) send a visitor without a session here: the
    // login comes first, then back to the docs, which read the token of this tab
    { path: 'api-docs', name: 'api-docs', component: { render: () => null }, meta: { title: '接口文档', hidden: true },
      beforeEnter: () => {
        window.location.replace('/api/docs/')
        return false
      } },
    { path: 'verification/import', name: 'verification-import', component: () => import('@/pages/verification/import.vue'), meta: { title: '导入核查批次', perm: ['verification.import'], hidden: true } },
    { path: 'returnees/:id', name: 'returnee', component: () => import('@/pages/returnees/index.vue'), meta: { title: '返乡人员', perm: ['returnees.read'], personalData: true, hidden: true } },
    { path: 'verification/tasks/:id', name: 'verification-task', component: () => import('@/pages/verification/detail.vue'), meta: { title: '核查任务详情', perm: ['verification.read'], personalData: true, hidden: true } },
    {
      path: '403',
      name: 'forbidden',
      component: () => import('@/pages/error/forbidden.vue'),
      meta: { title: '无权访问', hidden: true },
    },
    {
      path: ':pathMatch(.*)*',
      name: 'not-found',
      component: () => import('@/pages/error/not-found.vue'),
      meta: { title: '页面不存在', hidden: true },
    },
  ] },
]

export const router = createRouter({ history: createWebHashHistory(), routes })

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!auth.isLoggedIn.value) {
    const ok = await auth.restore()
    if (!ok) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  }
  if (!isSessionRunning()) startSession()
  if (to.meta.perm && !auth.hasPerm(to.meta.perm)) return { name: 'forbidden', query: { from: to.fullPath } }
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} - 政钉管理后台` : '政钉管理后台'
  setRouteProtection(!!to.meta.personalData)
})

onSessionEnd((reason) => {
  const current = router.currentRoute.value
  if (current.meta.public) return
  void router.replace({ name: 'login', query: { reason, redirect: current.fullPath } })
})
