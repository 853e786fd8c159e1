import { createRouter, createWebHistory } from 'vue-router'

import Landing from './pages/Landing.vue'
import NotFound from './pages/NotFound.vue'
import SectionLayout from './pages/SectionLayout.vue'
import SignIn from './pages/SignIn.vue'
import { sectionLocale } from './i18n.js'
import { SECTIONS } from './sections/index.js'

export function servedSections(config) {
  return SECTIONS.filter((section) => config.apps?.[section.slug] && section.nav.length)
}

export function createConsoleRouter(config) {
  const routes = [{ path: '/', name: 'landing', component: Landing }]
  for (const section of servedSections(config)) {
    routes.push({
      path: `/${section.slug}`,
      component: SectionLayout,
      props: { section },
      meta: { section },
      children: [
        { path: '', redirect: `/${section.slug}/${section.nav[0].path}` },
        { path: 'sign-in', component: SignIn, props: { section }, meta: { section, public: true } },
        ...section.nav.map(({ path, component }) => ({ path, component, meta: { section } })),
      ],
    })
  }
  routes.push({ path: '/:rest(.*)*', component: NotFound })

  const router = createRouter({ history: createWebHistory(import.meta.env.BASE_URL), routes })
  router.beforeEach((to) => {
    const section = to.meta.section
    if (!section) return true
    sectionLocale(section.locale)
    if (to.meta.public || section.session.state.user) return true
    return { path: `/${section.slug}/sign-in`, query: { next: to.fullPath } }
  })
  return router
}
