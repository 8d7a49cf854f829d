// The older majors the tests run against, installed under aliases at the
// root; their types are close enough to the current ones for the tests.
declare module 'express4' {
  import express from 'express';
  export default express;
}
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
