// The shop's back office (seed 003): its admin signs in with the shop's own accounts.
import Categories from './Categories.vue'
import Orders from './Orders.vue'
import Products from './Products.vue'
import { session } from './session.js'

export default {
  slug: 'shop',
  locale: 'zh-Hant',
  session,
  isAdmin: (user) => user.is_admin === true,
  nav: [
    { path: 'products', component: Products },
    { path: 'categories', component: Categories },
    { path: 'orders', component: Orders },
    // ECharts is loaded only when the chart is opened.
    { path: 'bestsellers', component: () => import('./Bestsellers.vue') },
  ],
}
