import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router'
import {
  auth,
  isSessionRunning,
  onSessionEnd,
  SESSION_END_MESSAGES,
  setRouteProtection,
  startSession,
} from '@shared/index'
import TabLayout from '@/layout/TabLayout.vue'

declare module 'vue-router' {
  interface RouteMeta {
    title?: string
    public?: boolean
    /** the page shows personal data: no copy, no print, no selection */
    personalData?: boolean
  }
}

const routes: RouteRecordRaw[] = [
  { path: '/login', name: 'login', component: () => import('@/pages/login/index.vue'), meta: { public: true, title: '登录' } },
  {
    path: '/activate',
    name: 'activate',
    component: () => import('@/pages/activate/index.vue'),
    meta: { public: true, title: '激活账号' },
  },
  {
    path: '/',
    component: TabLayout,
    children: [
      { path: '', name: 'workbench', component: () => import('@/pages/workbench/index.vue'), meta: { title: '工作台' } },
      {
        path: 'directory',
        name: 'directory',
        component: () => import('@/pages/directory/index.vue'),
        meta: { title: '通讯录', personalData: true },
      },
      { path: 'inbox', name: 'inbox', component: () => import('@/pages/notify/inbox.vue'), meta: { title: '消息' } },
      { path: 'profile', name: 'profile', component: () => import('@/pages/profile/index.vue'), meta: { title: '我的' } },
    ],
  },
  {
    path: '/directory/unit/:id',
    name: 'directory-unit',
    component: () => import('@/pages/directory/unit.vue'),
    meta: { title: '通讯录', personalData: true },
  },
  {
    path: '/directory/person/:id',
    name: 'directory-person',
    component: () => import('@/pages/directory/person.vue'),
    meta: { title: '个人名片', personalData: true },
  },
  {
    path: '/returnees',
    name: 'returnees',
    component: () => import('@/pages/returnees/index.vue'),
    meta: { title: '返乡人员', personalData: true },
  },
  {
    path: '/returnees/:id',
    name: 'returnee',
    component: () => import('@/pages/returnees/detail.vue'),
    meta: { title: '返乡人员详情', personalData: true },
  },
  {
    path: '/supervision',
    name: 'supervision',
    component: () => import('@/pages/supervision/index.vue'),
    meta: { title: '督办待办' },
  },
  {
    path: '/supervision/:id',
    name: 'supervision-item',
    component: () => import('@/pages/supervision/detail.vue'),
    meta: { title: '督办详情' },
  },
  {
    path: '/verification',
    name: 'verification',
    component: () => import('@/pages/verification/index.vue'),
    meta: { title: '重点人员核查', personalData: true },
  },
  { path: '/verification/tasks', redirect: '/verification' },
  {
    path: '/verification/review',
    name: 'verification-review',
    component: () => import('@/pages/verification/index.vue'),
    meta: { title: '待审核回单', personalData: true },
  },
  {
    path: '/verification/transfers',
    name: 'verification-transfers',
    component: () => import('@/pages/verification/transfers.vue'),
    meta: { title: '核查转办' },
  },
  {
    path: '/verification/tasks/:id',
    name: 'verification-task',
    component: () => import('@/pages/verification/detail.vue'),
    meta: { title: '核查任务', personalData: true },
  },
  {
    path: '/verification/tasks/:id/reply',
    name: 'verification-reply',
    component: () => import('@/pages/verification/reply.vue'),
    meta: { title: '核查回单', personalData: true },
  },
  { path: '/ding/new', name: 'ding-new', component: () => import('@/pages/notify/ding-new.vue'), meta: { title: '发 DING' } },
  { path: '/ding/sent', name: 'ding-sent', component: () => import('@/pages/notify/ding-sent.vue'), meta: { title: '我发出的 DING' } },
  { path: '/ding/:id', name: 'ding-detail', component: () => import('@/pages/notify/ding-detail.vue'), meta: { title: 'DING 详情' } },
  {
    path: '/profile/password',
    name: 'profile-password',
    component: () => import('@/pages/profile/password.vue'),
    meta: { title: '修改密码' },
  },
  {
    path: '/profile/totp',
    name: 'profile-totp',
    component: () => import('@/pages/profile/totp.vue'),
    meta: { title: '双因素认证' },
  },
  {
    path: '/:pathMatch(.*)*',
    name: 'not-found',
    component: () => import('@/pages/error/not-found.vue'),
    meta: { title: '页面不存在' },
  },
]

export const router = createRouter({
  history: createWebHashHistory(),
  routes,
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
})

router.beforeEach(async (to) => {
  if (to.meta.public) return true
  if (!auth.isLoggedIn.value) {
    const ok = await auth.restore()
    if (!ok) return { name: 'login', query: to.fullPath !== '/' ? { redirect: to.fullPath } : {} }
  }
  if (!isSessionRunning()) startSession()
  return true
})

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} - 政钉` : '政钉'
  setRouteProtection(!!to.meta.personalData)
})

onSessionEnd((reason) => {
  const current = router.currentRoute.value
  if (current.meta.public) return
  void router.replace({
    name: 'login',
    query: { reason, redirect: current.fullPath },
  })
})

export { SESSION_END_MESSAGES }
