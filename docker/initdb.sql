CREATE DATABASE usp_webapp;
CREATE DATABASE usp_storage;
